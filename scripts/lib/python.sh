# The fairtrain Python package in development: its extension (python/src, a cdylib) built by
# cargo with the rest of the workspace and put next to the package's Python code, so that
# `PYTHONPATH=python` imports the working tree. (Users install it with `pip install ./python`,
# which builds the same crate through maturin.)
# shellcheck shell=bash

# Builds the extension in target/<profile> and copies it into python/fairtrain. `cargo test` does
# not build a cdylib without tests, so it is built here, with the tests' features (after a
# `cargo test --workspace` only this crate compiles). Usage: build_python_extension [release]
build_python_extension() {
  local profile="${1:-debug}" flags=(--locked --workspace --lib --bins --tests)
  [ "$profile" = release ] && flags=(--locked -p fairtrain-python --release)
  cargo build "${flags[@]}"
  copy_python_extension "$profile"
}

# Puts the extension built in target/<profile> next to the package's Python code.
# Usage: copy_python_extension [debug|release]
copy_python_extension() {
  local built="$ROOT/target/${1:-debug}/lib_native.so"
  [ -f "$built" ] || die "$built is missing: build the fairtrain-python crate first"
  cp "$built" "$ROOT/python/fairtrain/_native.abi3.so"
}

# The virtual environment's Python, with the working tree's package importable.
dev_python() {
  PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" "$ROOT/.venv/bin/python" "$@"
}
