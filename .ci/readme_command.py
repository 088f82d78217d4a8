"""Print the README's Nth ``sh`` code block, so CI runs the commands exactly as a newcomer reads them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    index = int(sys.argv[1])
    if not 1 <= index <= len(blocks):
        sys.exit(f"README.md has {len(blocks)} sh blocks, no block {index}")
    print(blocks[index - 1].strip())


if __name__ == "__main__":
    main()
