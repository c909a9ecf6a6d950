// libFuzzer's entry point for programs that keep their own main (LLVM >= 11). Referenced only when
// strata-fuzz is compiled with -DLIBFUZZER and linked with -sanitize=fuzzer (Scripts/fuzz.sh).
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
