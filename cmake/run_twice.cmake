# Runs `aasim run FILE` twice in two processes (on BACKEND, default memory); fails unless
# both outputs (which end with the final digest) are byte-for-byte equal, the run passed,
# and (with EXPECTED) the output is the expected one.
if(NOT BACKEND)
  set(BACKEND memory)
endif()
foreach(i 1 2)
  execute_process(COMMAND ${AASIM} run --backend ${BACKEND} ${FILE} RESULT_VARIABLE rc${i}
                  OUTPUT_VARIABLE out${i}
                  ERROR_VARIABLE err${i})
endforeach()
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "aasim run ${FILE} failed: ${rc1}/${rc2}\n${out1}${err1}")
endif()
if(NOT out1 STREQUAL out2)
  message(FATAL_ERROR "two runs of ${FILE} differ:\n--- first\n${out1}\n--- second\n${out2}")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/expected.cmake)
check_expected("${out1}" "aasim run ${FILE}")
string(REGEX MATCH "digest [0-9a-f]+" digest "${out1}")
message(STATUS "${FILE}: identical twice, ${digest}")
