# Installs the library, its headers, the CMake package rnnlyap::rnnlyap (rnnlyapConfig.cmake,
# rnnlyapConfigVersion.cmake, rnnlyapTargets.cmake) and rnnlyap.pc (docs/cpp.md). Included from the
# top-level CMakeLists.txt after src/ (it reads RNNLYAP_LIB_CUDA, the dependencies' targets and
# RNNLYAP_BLAS_VENDOR). The program's own rule is in src/cli.
include(CMakePackageConfigHelpers)

set(RNNLYAP_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/rnnlyap")
set(RNNLYAP_PKGCONFIG_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# The include directory comes with the target's $<INSTALL_INTERFACE:...> (src/CMakeLists.txt).
# Component Development: all of it (the program is component Runtime, src/cli).
install(TARGETS rnnlyap_lib EXPORT rnnlyapTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/rnnlyap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT Development FILES_MATCHING PATTERN "*.hpp")
install(EXPORT rnnlyapTargets NAMESPACE rnnlyap:: DESTINATION ${RNNLYAP_CMAKE_DIR}
  COMPONENT Development)

# --- rnnlyapConfig.cmake / rnnlyapConfigVersion.cmake ---------------------------------------------
set(RNNLYAP_CUDA_ROOT "")
if(RNNLYAP_LIB_CUDA)
  get_filename_component(RNNLYAP_CUDA_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/rnnlyapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/rnnlyapConfig.cmake INSTALL_DESTINATION ${RNNLYAP_CMAKE_DIR})
# 0.x: a minor release may change the API, so only patch releases of the same minor are
# compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rnnlyapConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rnnlyapConfig.cmake ${PROJECT_BINARY_DIR}/rnnlyapConfigVersion.cmake
  DESTINATION ${RNNLYAP_CMAKE_DIR} COMPONENT Development)

# --- rnnlyap.pc -------------------------------------------------------------------------------------
# Libs: the library's link dependencies as flags. A dependency's target is followed through its
# imported location and INTERFACE_LINK_LIBRARIES; a path lib<name>.so/.a becomes -L<dir> -l<name>
# (other paths, e.g. lib<name>.so.3, stay as they are); flags pass through.
function(_rnnlyap_pc_flags item out_flags out_dirs)
  set(flags ${${out_flags}})
  set(dirs ${${out_dirs}})
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item MATCHES "\\$<" OR item STREQUAL "")
    if(NOT item STREQUAL "")
      message(AUTHOR_WARNING "rnnlyap.pc: ignoring the generator expression ${item}")
    endif()
  elseif(TARGET "${item}")
    get_target_property(type ${item} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      foreach(prop IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_NOCONFIG IMPORTED_LOCATION)
        get_target_property(loc ${item} ${prop})
        if(loc)
          _rnnlyap_pc_flags("${loc}" flags dirs)
          break()
        endif()
      endforeach()
    endif()
    get_target_property(deps ${item} INTERFACE_LINK_LIBRARIES)
    if(deps)
      foreach(dep IN LISTS deps)
        _rnnlyap_pc_flags("${dep}" flags dirs)
      endforeach()
    endif()
  elseif(IS_ABSOLUTE "${item}")
    get_filename_component(name "${item}" NAME)
    if(name MATCHES "^lib(.+)\\.(so|a|dylib)$")
      get_filename_component(dir "${item}" DIRECTORY)
      if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
        list(APPEND dirs "-L${dir}")
      endif()
      list(APPEND flags "-l${CMAKE_MATCH_1}")
    else()
      list(APPEND flags "${item}")
    endif()
  elseif(item MATCHES "^-")
    list(APPEND flags "${item}")
  else()
    list(APPEND flags "-l${item}")
  endif()
  set(${out_flags} ${flags} PARENT_SCOPE)
  set(${out_dirs} ${dirs} PARENT_SCOPE)
endfunction()

set(_pc_flags "")
set(_pc_dirs "")
get_target_property(_deps rnnlyap_lib LINK_LIBRARIES)
foreach(_dep IN LISTS _deps)
  if(_dep MATCHES "^\\$<BUILD_INTERFACE:")  # build-only (warnings, header-only nlohmann_json)
    continue()
  endif()
  _rnnlyap_pc_flags("${_dep}" _pc_flags _pc_dirs)
endforeach()
list(REMOVE_DUPLICATES _pc_dirs)
list(REMOVE_DUPLICATES _pc_flags)
list(JOIN _pc_dirs " " _pc_dirs)
list(JOIN _pc_flags " " _pc_flags)
if(RNNLYAP_MKL_ROOT)  # MKL's shared libraries, found at run time where they were linked from
  get_filename_component(_mkl_dir "${RNNLYAP_MKL_core}" DIRECTORY)
  string(APPEND _pc_flags " -Wl,-rpath,${_mkl_dir}")
endif()
string(STRIP "${_pc_dirs} ${_pc_flags}" RNNLYAP_PC_LIBS)

# Relocatable: paths relative to the .pc file, as the CMake package's are to its config file.
foreach(_dir PKGCONFIG LIB INCLUDE)
  if(_dir STREQUAL "PKGCONFIG")
    set(_path "${RNNLYAP_PKGCONFIG_DIR}")
  else()
    set(_path "${CMAKE_INSTALL_${_dir}DIR}")
  endif()
  if(IS_ABSOLUTE "${_path}")
    message(FATAL_ERROR "rnnlyap: CMAKE_INSTALL_${_dir}DIR must be relative to the prefix for a relocatable package")
  endif()
endforeach()
file(RELATIVE_PATH RNNLYAP_PC_PREFIX_REL "/prefix/${RNNLYAP_PKGCONFIG_DIR}" "/prefix")
string(REGEX REPLACE "/$" "" RNNLYAP_PC_PREFIX_REL "${RNNLYAP_PC_PREFIX_REL}")
set(RNNLYAP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(RNNLYAP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/rnnlyap.pc.in ${PROJECT_BINARY_DIR}/rnnlyap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rnnlyap.pc DESTINATION ${RNNLYAP_PKGCONFIG_DIR}
  COMPONENT Development)
