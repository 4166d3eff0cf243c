"""A local HTTP server answering Alpaca's historical bars endpoint (``GET /v2/stocks/bars``) from a
list of bars, in Alpaca's paged response format."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from quantterminal.core.models import Bar


class FakeHistory:
    """``with FakeHistory(bars) as history:``; ``history.url`` is the base URL."""

    def __init__(self, bars: list[Bar], page_size: int = 100) -> None:
        self.bars = bars
        self.page_size = page_size
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHistory:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests += 1
                if parts.path != "/v2/stocks/bars":
                    self._send(404, {"message": "not found"})
                    return
                symbols = q["symbols"].split(",")
                start = datetime.fromisoformat(q["start"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(q["end"].replace("Z", "+00:00"))
                offset = int(q.get("page_token") or 0)
                matching = [b for b in fake.bars if b.symbol in symbols and start <= b.timestamp < end]
                page = matching[offset : offset + fake.page_size]
                body: dict[str, object] = {"bars": {}, "next_page_token": None}
                for b in page:
                    body["bars"].setdefault(b.symbol, []).append(  # type: ignore[union-attr]
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
                if offset + fake.page_size < len(matching):
                    body["next_page_token"] = str(offset + fake.page_size)
                self._send(200, body)

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
