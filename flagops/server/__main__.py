"""`python -m flagops.server ...` == `flagops serve ...`."""

from flagops.server.cli import serve

if __name__ == "__main__":
    serve.main(prog_name="python -m flagops.server")
