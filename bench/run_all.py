"""Run every benchmark (each compares against a baseline measured in the same run)."""
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("bench_*.py"))
failed = []
for name in names:
    try:
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
    except Exception as e:  # noqa: BLE001 - report and go on with the other benchmarks
        print(f"!! {name} failed: {str(e)[-500:]}")
        failed.append(name)
sys.exit(1 if failed else 0)
