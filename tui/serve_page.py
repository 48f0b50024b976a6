"""The page `--serve` answers with: textual-serve's page, made to need nothing from the internet.

Changed from textual_serve/templates/app_index.html: Roboto Mono from textual-serve's own static fonts
(not fonts.googleapis.com), an inline favicon (no request for one that is not there), and the terminal
focused on load, so keys work before the page is clicked. A Jinja2 template: the server fills in the
static URL, the WebSocket URL (which carries the server's token) and the font size.
"""

from __future__ import annotations

# A tiny rising curve as the tab's icon, inline: the browser asks the server for nothing.
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
           "%3Crect width='16' height='16' rx='3' fill='%230c181f'/%3E"
           "%3Cpath d='M2 12 L6 7 L9 9 L14 3' stroke='%2355d6be' stroke-width='2' fill='none'/%3E%3C/svg%3E")

PAGE = """<!DOCTYPE html>
<html>
  <head>
    <link rel="stylesheet" href="{{ config.static.url }}css/xterm.css" />

    <link rel="icon" href="{{ favicon }}" />
    <script src="{{ config.static.url }}js/textual.js"></script>
    <style>
      /* The page asks nothing of the internet: Roboto Mono comes with textual-serve's static files. */
      @font-face {
        font-family: "Roboto Mono";
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
        font-style: normal;
      }
      @font-face {
        font-family: "Roboto Mono";
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
        font-style: italic;
      }
      body {
        background: #0c181f;
      }

      .dialog-container {
        position: absolute;
        width: 100vw;
        height: 100vh;
        display: flex;
        align-items: center;
        justify-content: center;
        z-index: 10;
        box-shadow: var(--shadow-elevation-high);
      }
      .shade {
        position: absolute;
        width: 100%;
        height: 100%;
        background: #0c181f;
        background-image: url("{{ config.static.url }}images/background.png");
      }
      .intro {
        width: 640px;
        height: 240px;
        font-size: 16px;
        z-index: 20;
        font-family: "Roboto Mono", menlo, monospace;
        text-align: center;
        opacity: 1;
        color: rgba(255, 255, 255, 0.95);
        background-color: #12232d;
        display: flex;
        align-items: center;
        justify-content: center;
        margin: 32px;
      }

      body.-first-byte .intro-dialog,
      body.-first-byte .intro-dialog .shade {
        opacity: 0;
        transition: opacity 0.3s ease-out;
        display: none;
      }

      body .textual-terminal {
        opacity: 0;
        transition: opacity 0.3s ease-out;
      }

      body.-first-byte .textual-terminal {
        opacity: 1;
        transition: opacity 0.3s ease-out;
      }

      .intro svg {
        padding-right: 16px;
      }

      body Button {
        padding: 16px 32px;
        background-color: #5e0ba7;
        color: rgba(255, 255, 255, 0.95);
        border: none;
        font-family: "Roboto Mono", menlo, monospace;
        margin: 16px;
        display: block;
      }

      Button:hover {
        background: #ac5af4;
        cursor: pointer;
      }

      .closed-dialog {
        opacity: 0;
        display: none;
      }

      body.-closed .closed-dialog {
        opacity: 1;
        display: flex;
      }

      #start {
        display: none;
      }

      #start.-delay {
        display: flex;
      }
    </style>
    <script>
      // Keys reach the dashboard at once: focus the terminal's input as soon as xterm.js has made it
      // (and again after a click anywhere on the page).
      function focusTerminal() {
        const input = document.querySelector("#terminal .xterm-helper-textarea");
        if (input && document.activeElement !== input) {
          input.focus();
        }
        return input !== null && document.activeElement === input;
      }
      window.addEventListener("load", () => {
        const started = Date.now();
        const timer = setInterval(() => {
          if (focusTerminal() || Date.now() - started > 15000) {
            clearInterval(timer);
          }
        }, 100);
        document.body.addEventListener("click", focusTerminal);
      });
      function getStartUrl() {
        const url = new URL(window.location.href);
        const params = new URLSearchParams(url.search);
        params.delete("delay");
        return url.pathname + "?" + params.toString();
      }
      async function refresh() {
        const ping_url = document.body.dataset.pingurl;
        if (ping_url) {
          await fetch(ping_url, {
            method: "GET",
            mode: "no-cors",
          });
        }
        window.location.href = getStartUrl();
      }
    </script>
  </head>
  <body data-pingurl="{{ ping_url }}">
    <div class="dialog-container intro-dialog">
      <div class="shade"></div>
      <div class="intro">

        <div>{{ application.name or 'Textual Application' }}</div>
        <button type="button" onClick="refresh()" id="start">Start</button>
      </div>
    </div>

    <div class="dialog-container closed-dialog">
      <div class="shade"></div>
      <div class="intro">
        <div class="message">Session ended.</div>
        <button type="button" onClick="refresh()">Restart</button>
      </div>
    </div>

    <div
      id="terminal"
      class="textual-terminal"
      data-session-websocket-url="{{ app_websocket_url }}"
      data-font-size="{{ font_size }}"
    ></div>
  </body>
</html>
"""
