# Convenience targets; the scripts work without make.
.PHONY: run test bench ipk
run:
	sh scripts/run.sh
test:
	sh scripts/test.sh
bench:
	.venv/bin/python bench/run_all.py
ipk:
	.venv/bin/python ipk/build.py
