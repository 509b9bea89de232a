"""Prints what this process received, as one JSON line: its arguments and working directory as hex bytes.

The hostile-input tests run it as a job: bytes, unlike text, show any change a shell would make.
"""
import json
import os
import sys

print(json.dumps({"argv": [os.fsencode(arg).hex() for arg in sys.argv[1:]], "cwd": os.getcwdb().hex()}))
