"""`python -m flagops.server ...` == `flagops serve ...`."""

from flagops.cli.serve_cmd import serve

if __name__ == "__main__":
    serve.main(prog_name="python -m flagops.server")
