"""README.md's component reference must equal what `otelc reference` prints,
so the documented options, types and defaults are the ones the binary uses.
Regenerate it with: OTELC=build/otelc OTC_SOURCE_DIR=. python3 THIS_FILE --update"""
# SPDX-License-Identifier: Apache-2.0
import os
import subprocess
import sys

otelc = os.environ["OTELC"]
readme = os.path.join(os.environ["OTC_SOURCE_DIR"], "README.md")
ref = subprocess.run([otelc, "reference"], capture_output=True, text=True, check=True).stdout
text = open(readme, encoding="utf-8").read()
begin, end = "<!-- reference:begin -->\n", "<!-- reference:end -->"
failed = 0
if "--update" in sys.argv:
    head, rest = text.split(begin, 1)
    text = head + begin + ref + end + rest.split(end, 1)[1]
    open(readme, "w", encoding="utf-8").write(text)
if begin not in text or end not in text:
    print("README.md lacks the reference markers")
    failed += 1
else:
    doc = text[text.index(begin) + len(begin):text.index(end)]
    if doc != ref:
        print("README.md's component reference differs from `otelc reference`; regenerate it")
        failed += 1
    for line in ref.splitlines():
        if line.startswith("| `") and line not in doc:
            print("missing from README:", line)
print(f"{1 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
