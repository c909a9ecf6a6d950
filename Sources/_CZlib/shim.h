// zlib (Debian: zlib1g-dev), used only by StrataData to read gzip-compressed datasets (MNIST .gz).
#include <zlib.h>
