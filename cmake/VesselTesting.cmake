# vessel_discover_tests(<target> LABELS <label>... [FILTER <gtest filter>] [TIMEOUT <s>]
#                       [DISCOVERY_TIMEOUT <s>])
# gtest_discover_tests with several labels. CMake 3.25 keeps only the first label of a list passed
# through gtest_discover_tests' PROPERTIES, so a CTest include file that runs after discovery sets
# them. Label `kvm` marks tests that need /dev/kvm: scripts/test.sh runs them in the nested KVM
# host (scripts/kvm-host) where this machine has no usable KVM.
function(vessel_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "FILTER;TIMEOUT;DISCOVERY_TIMEOUT" "LABELS")
  string(MAKE_C_IDENTIFIER "${target}_${arg_FILTER}_tests" list_var)
  set(options DISCOVERY_TIMEOUT 60 TEST_LIST ${list_var})
  if(arg_DISCOVERY_TIMEOUT)
    set(options DISCOVERY_TIMEOUT ${arg_DISCOVERY_TIMEOUT} TEST_LIST ${list_var})
  endif()
  if(arg_FILTER)
    list(APPEND options TEST_FILTER "${arg_FILTER}")
  endif()
  if(arg_TIMEOUT)
    list(APPEND options PROPERTIES TIMEOUT ${arg_TIMEOUT})
  endif()
  gtest_discover_tests(${target} ${options})
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${list_var}_labels.cmake)
  file(WRITE ${labels_file}
    "foreach(t IN LISTS ${list_var})\n"
    "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${arg_LABELS}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

# vessel_not_in_sanitizer_pass(<target>...): test programs with no test that scripts/test.sh's
# sanitizer pass runs (its `unit` tests, and in nested hosts the kvm tests of
# tests/asan-kvm-tests.txt): the ASan build leaves them out of `all` (docs/building.md: that build
# is the slowest part of CI). Where this machine's KVM runs VMs, that pass runs every kvm test:
# there the ASan build keeps them all (VESSEL_SANITIZER_ALL_TESTS=ON, set by scripts/build.sh).
option(VESSEL_SANITIZER_ALL_TESTS "The sanitizer build builds every test program" OFF)
function(vessel_not_in_sanitizer_pass)
  if(VESSEL_SANITIZE AND NOT VESSEL_SANITIZER_ALL_TESTS)
    set_target_properties(${ARGN} PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endfunction()
