# Runs `aasim run FILE` twice in two processes; fails unless both outputs (which end with
# the final digest) are byte-for-byte equal and the run passed.
foreach(i 1 2)
  execute_process(COMMAND ${AASIM} run ${FILE} RESULT_VARIABLE rc${i} OUTPUT_VARIABLE out${i}
                  ERROR_VARIABLE err${i})
endforeach()
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "aasim run ${FILE} failed: ${rc1}/${rc2}\n${out1}${err1}")
endif()
if(NOT out1 STREQUAL out2)
  message(FATAL_ERROR "two runs of ${FILE} differ:\n--- first\n${out1}\n--- second\n${out2}")
endif()
string(REGEX MATCH "digest [0-9a-f]+" digest "${out1}")
message(STATUS "${FILE}: identical twice, ${digest}")
