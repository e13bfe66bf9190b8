# Convenience targets; the scripts work without make.
.PHONY: run test bench ipk venv
run:
	sh scripts/run.sh
test:
	sh scripts/test.sh
# .venv with the package installed (scripts/env.sh), so `make ipk` and `make bench` work on a
# fresh clone. An existing .venv keeps its Python (scripts/test.sh makes it with 3.10, which
# env.sh with the default python3 would replace).
venv:
	@if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python sh scripts/env.sh; \
	else sh scripts/env.sh; fi
bench: venv
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { \
	echo "make bench: the benchmarks need ffmpeg and ffprobe: apt-get install ffmpeg" >&2; exit 1; }
	.venv/bin/python bench/run_all.py
ipk: venv
	.venv/bin/python ipk/build.py
