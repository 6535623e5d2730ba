/* The size classes, written out as literals so the fast path reads a
 * constant table and nothing has to be set up before the first malloc
 * (which can come before constructors run).
 *
 * Classes: 16..128 in steps of 16 (the 16-byte alignment floor), then 8
 * classes per doubling up to 64 KiB: a request above 128 bytes wastes less
 * than 1/8 of itself. Between 64 and 128 bytes the floor decides (65 -> 80).
 * heap_class_of() computes the same mapping with bit arithmetic above 1 KiB;
 * the checked build verifies at start-up that both agree with these tables. */
#include "alloc/heap_internal.h"

const uint32_t heap_class_size[CLASS_COUNT] = {
    16, 32, 48, 64, 80, 96, 112, 128,
    144, 160, 176, 192, 208, 224, 240, 256,
    288, 320, 352, 384, 416, 448, 480, 512,
    576, 640, 704, 768, 832, 896, 960, 1024,
    1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048,
    2304, 2560, 2816, 3072, 3328, 3584, 3840, 4096,
    4608, 5120, 5632, 6144, 6656, 7168, 7680, 8192,
    9216, 10240, 11264, 12288, 13312, 14336, 15360, 16384,
    18432, 20480, 22528, 24576, 26624, 28672, 30720, 32768,
    36864, 40960, 45056, 49152, 53248, 57344, 61440, 65536,
};

/* heap_small_class[(size + 15) / 16] for size <= 1024. */
const uint8_t heap_small_class[SMALL_DIRECT_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23,
    23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27,
    27, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31,
    31,
};

size_t rh_size_class_count(void) { return CLASS_COUNT; }
