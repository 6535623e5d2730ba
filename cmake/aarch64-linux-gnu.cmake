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
# The libraries beyond the C library (libdw, libunwind, jansson, zlib),
# unpacked from Debian's arm64 archive by scripts/arm64-libs.sh; the
# programs find them at run time by their run path (qemu looks a path up
# in its -L root first, then as it is).
set(RH_ARM64_LIBS /opt/reheap-arm64)
set(rh_arm64_lib_dirs ${RH_ARM64_LIBS}/usr/lib/aarch64-linux-gnu ${RH_ARM64_LIBS}/lib/aarch64-linux-gnu)
# (DT_RPATH, not RUNPATH: the libraries these need are found by it too)
set(rh_arm64_link "-fuse-ld=/usr/bin/aarch64-linux-gnu-ld -Wl,--disable-new-dtags")
foreach(dir ${rh_arm64_lib_dirs})
  string(APPEND rh_arm64_link " -L${dir} -Wl,-rpath,${dir} -Wl,-rpath-link,${dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT ${rh_arm64_link})
set(CMAKE_SHARED_LINKER_FLAGS_INIT ${rh_arm64_link})
set(CMAKE_MODULE_LINKER_FLAGS_INIT ${rh_arm64_link})
set(CMAKE_C_FLAGS_INIT "-isystem ${RH_ARM64_LIBS}/usr/include -isystem ${RH_ARM64_LIBS}/usr/include/aarch64-linux-gnu")
set(CMAKE_CXX_FLAGS_INIT ${CMAKE_C_FLAGS_INIT})
set(CMAKE_AR /usr/bin/aarch64-linux-gnu-ar)
set(CMAKE_RANLIB /usr/bin/aarch64-linux-gnu-ranlib)
set(CMAKE_STRIP /usr/bin/aarch64-linux-gnu-strip)
set(CMAKE_OBJCOPY /usr/bin/aarch64-linux-gnu-objcopy)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${RH_ARM64_LIBS})
# pkg-config reads the arm64 libraries' .pc files, not the machine's
set(ENV{PKG_CONFIG_LIBDIR} ${RH_ARM64_LIBS}/usr/lib/aarch64-linux-gnu/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${RH_ARM64_LIBS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
# No UBSan runtime for the target here: its checks trap instead
set(RH_SANITIZE_TRAP ON)
