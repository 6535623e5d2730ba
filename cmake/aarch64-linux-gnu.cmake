# Cross-building reheap for 64-bit ARM Linux with clang (--target) over
# Debian's cross C library, GCC runtime and binutils (libc6-dev-arm64-cross,
# libgcc-12-dev-arm64-cross, libstdc++-12-dev-arm64-cross,
# binutils-aarch64-linux-gnu): Debian's gcc-aarch64-linux-gnu conflicts
# with gcc-multilib, which the 32-bit x86 tests need. Its programs run
# under qemu-aarch64 (user mode, the cross C library as its root), which
# CTest puts in front of each test.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_ASM_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_ASM_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT -fuse-ld=/usr/bin/aarch64-linux-gnu-ld)
set(CMAKE_SHARED_LINKER_FLAGS_INIT -fuse-ld=/usr/bin/aarch64-linux-gnu-ld)
set(CMAKE_MODULE_LINKER_FLAGS_INIT -fuse-ld=/usr/bin/aarch64-linux-gnu-ld)
set(CMAKE_AR /usr/bin/aarch64-linux-gnu-ar)
set(CMAKE_RANLIB /usr/bin/aarch64-linux-gnu-ranlib)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
# No UBSan runtime for the target here: its checks trap instead
set(RH_SANITIZE_TRAP ON)
