"""A local HTTP server answering Alpaca's historical bars endpoint (``GET /v2/stocks/bars``) from a
list of bars, in Alpaca's paged response format: the replay's "historical API", so that gap
backfill runs through alpaca-py exactly as it does against Alpaca."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from quantterminal.core.models import Bar


class HistoryServer:
    """``with HistoryServer(bars) as history:``; ``history.url`` is the base URL for alpaca-py's
    ``url_override``."""

    def __init__(self, bars: list[Bar], page_size: int = 1000) -> None:
        self.bars = bars
        self.page_size = page_size
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HistoryServer:
        threading.Thread(target=self._server.serve_forever, name="history-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                served.requests += 1
                if parts.path != "/v2/stocks/bars":
                    self._send(404, {"message": "not found"})
                    return
                try:
                    symbols = q["symbols"].split(",")
                    start = datetime.fromisoformat(q["start"].replace("Z", "+00:00"))
                    end = datetime.fromisoformat(q["end"].replace("Z", "+00:00"))
                    offset = int(q.get("page_token") or 0)
                except (KeyError, ValueError) as exc:
                    self._send(400, {"message": f"bad request: {exc}"})
                    return
                matching = [b for b in served.bars if b.symbol in symbols and start <= b.timestamp < end]
                page = matching[offset : offset + served.page_size]
                by_symbol: dict[str, list[dict[str, object]]] = {}
                body: dict[str, object] = {"bars": by_symbol, "next_page_token": None}
                for b in page:
                    by_symbol.setdefault(b.symbol, []).append(
                        {
                            "t": b.timestamp.isoformat().replace("+00:00", "Z"),
                            "o": b.open,
                            "h": b.high,
                            "l": b.low,
                            "c": b.close,
                            "v": b.volume,
                            "n": b.trade_count or 0,
                            "vw": b.vwap or b.close,
                        }
                    )
                if offset + served.page_size < len(matching):
                    body["next_page_token"] = str(offset + served.page_size)
                self._send(200, body)

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
