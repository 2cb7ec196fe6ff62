// The decompression half of libdeflate, compiled into the package: cgo
// builds only the C files of a package's own directory.
#include "libdeflate/lib/utils.c"
#include "libdeflate/lib/adler32.c"
#include "libdeflate/lib/deflate_decompress.c"
#include "libdeflate/lib/zlib_decompress.c"
#include "libdeflate/lib/x86/cpu_features.c"
#include "libdeflate/lib/arm/cpu_features.c"
