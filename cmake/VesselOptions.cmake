# Compiler options shared by every target.
option(VESSEL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(VESSEL_FUZZ "Build libFuzzer targets (needs clang)" OFF)
# Unity builds: each target's sources compiled in batches, one translation unit per batch. The
# headers (JSON, CLI11, gtest, fmt) are parsed and their templates instantiated once per batch
# instead of once per file: a cold build is about three times faster (docs/building.md). Names in
# anonymous namespaces must therefore differ between the files of a target.
option(VESSEL_UNITY "Build each target's sources in unity batches" ON)
set(VESSEL_UNITY_BATCH 8 CACHE STRING "Sources per unity batch")
if(VESSEL_UNITY)
  set(CMAKE_UNITY_BUILD ON)
  set(CMAKE_UNITY_BUILD_BATCH_SIZE ${VESSEL_UNITY_BATCH})
endif()
# Line tables only: backtraces and perf keep file:line, and the build is much lighter than -g.
# The sanitizer build takes -O1, as ASan's documentation advises: a third less compile time.
if(VESSEL_SANITIZE)
  set(vessel_optimize -O1)
else()
  set(vessel_optimize -O2)
endif()
set(CMAKE_C_FLAGS_RELWITHDEBINFO "${vessel_optimize} -g1 -DNDEBUG" CACHE STRING "" FORCE)
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "${vessel_optimize} -g1 -DNDEBUG" CACHE STRING "" FORCE)
# lld links the large test binaries several times faster than ld.bfd.
find_program(VESSEL_LLD ld.lld)
if(VESSEL_LLD)
  add_link_options(-fuse-ld=lld)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers -fno-strict-aliasing)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # False positives in libstdc++ 12 headers with -O2 (GCC bug 105329, 106199).
  add_compile_options(-Wno-restrict -Wno-stringop-overflow -Wno-array-bounds)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
endif()

if(VESSEL_SANITIZE)
  # UBSan without its null, alignment and vptr checks: those instrument nearly every member
  # access and doubled the build's compile time (measured on a vessel_vmm batch: 20.8 s with them,
  # 14.6 s without, plain -O2 11.4 s); a null dereference still ends in ASan's SEGV report. Signed
  # overflow, shifts, bounds, bool and enum loads, division, float casts and returns stay checked.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr,alignment,null -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(VESSEL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VESSEL_FUZZ needs clang: cmake -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# vessel_add_fuzzer(name source... LIBS lib...): a libFuzzer target when VESSEL_FUZZ is on,
# otherwise a small driver that replays the corpus files given on its command line (a ctest).
function(vessel_add_fuzzer name)
  cmake_parse_arguments(F "" "" "LIBS" ${ARGN})
  if(VESSEL_FUZZ)
    add_executable(${name} ${F_UNPARSED_ARGUMENTS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${F_UNPARSED_ARGUMENTS} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.cc)
  endif()
  target_link_libraries(${name} PRIVATE ${F_LIBS})
endfunction()
