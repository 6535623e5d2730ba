# make install / cmake --install: the command, its libraries, the public
# headers, pkg-config and CMake package files, man pages, bash completion
# and the profiles. The installed `reheap` finds its libraries from its own
# folder (RH_LIB_FROM_BIN), so an install moved whole keeps working.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The two static archives other projects link: libreheap.a, the heap's rh_
# API alone (malloc left as it is), and libreheap_hook.a, the hook engine.
add_library(reheap_static STATIC $<TARGET_OBJECTS:reheap_alloc> $<TARGET_OBJECTS:reheap_os>)
set_target_properties(reheap_static PROPERTIES OUTPUT_NAME reheap)
add_library(reheap_hook_static STATIC $<TARGET_OBJECTS:reheap_hook> $<TARGET_OBJECTS:reheap_os>)
set_target_properties(reheap_hook_static PROPERTIES OUTPUT_NAME reheap_hook)
# (apart from the build's own libreheap_hook.a, which lacks the OS layer)
set_target_properties(reheap_static reheap_hook_static PROPERTIES ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib/dist)

file(RELATIVE_PATH rh_lib_from_bin ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
target_compile_definitions(reheap_cli PRIVATE RH_LIB_FROM_BIN="${rh_lib_from_bin}")

install(TARGETS reheap_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS reheap_preload reheap_preload_checked reheap_preload_sampled reheap_preload_recorded
                reheap_count reheap_track_preload reheap_track_got reheap_symbols
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS reheap_static reheap_hook_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/reheap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# pkg-config: reheap (libreheap.so), reheap-static and reheap-hook; the
# prefix is found from the .pc file's own place, as cmake --install
# --prefix and DESTDIR may put it anywhere
file(RELATIVE_PATH rh_pc_to_prefix ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" rh_pc_to_prefix "${rh_pc_to_prefix}")
foreach(pc reheap reheap-static reheap-hook)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# find_package(reheap): the config file finds the prefix from its own place
set(rh_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/reheap)
file(RELATIVE_PATH rh_config_to_prefix ${CMAKE_INSTALL_PREFIX}/${rh_cmake_dir} ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_SOURCE_DIR}/cmake/reheapConfig.cmake.in ${CMAKE_BINARY_DIR}/cmake/reheapConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/reheapConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/reheapConfig.cmake ${CMAKE_BINARY_DIR}/cmake/reheapConfigVersion.cmake
        DESTINATION ${rh_cmake_dir})

install(FILES ${CMAKE_SOURCE_DIR}/docs/man/reheap.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/reheap-profile.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_SOURCE_DIR}/scripts/reheap.bash-completion DESTINATION
        ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME reheap)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/profiles/ DESTINATION ${CMAKE_INSTALL_DATADIR}/reheap/profiles)
