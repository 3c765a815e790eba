"""Create the folder data/ with about 20 MB of sample files.

The app never uses them: they stand for the big files (datasets, logs, videos, a .git folder)
that sit next to real projects and should stay out of the build context. Run:

    python3 make_data.py
"""
import random
from pathlib import Path

FILES, SIZE = 20, 1024 * 1024  # 20 files of 1 MiB

if __name__ == "__main__":
    data = Path(__file__).resolve().parent / "data"
    data.mkdir(exist_ok=True)
    rng = random.Random(42)
    for i in range(FILES):
        (data / f"sample-{i:02d}.bin").write_bytes(rng.randbytes(SIZE))
    print(f"wrote {FILES} files, {FILES * SIZE / 1e6:.0f} MB, in {data}")
