"""`python -m myhealth` is the `myhealth` command."""

from myhealth.cli import main

if __name__ == "__main__":
    main()
