# Compiler options shared by every target.
option(VESSEL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(VESSEL_FUZZ "Build libFuzzer targets (needs clang)" OFF)

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
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
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
