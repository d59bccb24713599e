from hypothesis import settings

# deadline=None: the first call of a numba kernel compiles it, which takes longer than any deadline.
settings.register_profile("toygrad", deadline=None, max_examples=40, print_blob=True)
settings.load_profile("toygrad")
