import os

from hypothesis import settings

# deadline=None: the first call of a numba kernel compiles it, which takes longer than any deadline.
settings.register_profile("toygrad", deadline=None, max_examples=40, print_blob=True)
# In CI (CI=true) the examples are derived from each test's name: the same run every time, so a merge is never
# blocked by a chance draw; on a developer's machine hypothesis keeps exploring new examples.
settings.register_profile("ci", parent=settings.get_profile("toygrad"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "toygrad")
