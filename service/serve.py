"""``python -m service.serve``: run the API with the embedded defaults."""

from __future__ import annotations

import uvicorn

from service.core.config import get_settings
from service.core.http_protocol import ProblemH11Protocol
from service.core.native_log import capture_native_stderr


def main() -> None:
    settings = get_settings()
    capture_native_stderr(verbose=settings.native_logs)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run("service.app:app", host=settings.host, port=settings.port, access_log=False,
                http=ProblemH11Protocol)  # fmt: skip


if __name__ == "__main__":
    main()
