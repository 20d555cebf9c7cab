# cmake -DPYTHON=... -DCHECKER=... -DTREE=... -P expect_violations.cmake: the checker must fail on
# TREE and name every forbidden include of the fixture, and nothing that is allowed.
execute_process(COMMAND ${PYTHON} ${CHECKER} ${TREE} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message("${out}")
if(rc EQUAL 0)
  message(FATAL_ERROR "check-layering passed a tree with forbidden includes")
endif()
foreach(expected
    "src/cli/attach.cc:2: cli -> daemon"
    "src/runtime/create.cc:1: runtime -> vmm"
    "src/block/qcow2.cc:1: block -> daemon"
    "src/img/main.cc:1: img -> kvm"
    "src/daemon/images/image_store.h:2: daemon/images -> daemon/instances"
    "src/newpart/: folder not in the table")
  string(FIND "${out}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "check-layering did not report: ${expected}")
  endif()
endforeach()
foreach(unexpected "fmt/format.h" "daemon/api/router.h:" "vmm/machine.h:" "kvm/kvm.h:")
  string(FIND "${out}" "${unexpected}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "check-layering reported an allowed include: ${unexpected}")
  endif()
endforeach()
string(REGEX MATCHALL "is not an allowed arrow" arrows "${out}")
list(LENGTH arrows n)
if(NOT n EQUAL 5)
  message(FATAL_ERROR "check-layering reported ${n} forbidden includes, the fixture has 5")
endif()
