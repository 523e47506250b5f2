# Runs `aasim run FILE` on the in-memory backend and on the Redis backend (a redis-server
# per region, started by aasim); fails unless the Redis run passed and both outputs (every
# step, reply, value, metric and the final digest) are byte-for-byte equal.
execute_process(COMMAND ${AASIM} run ${FILE} RESULT_VARIABLE rc1 OUTPUT_VARIABLE out1
                ERROR_VARIABLE err1)
execute_process(COMMAND ${AASIM} run --backend redis ${FILE} RESULT_VARIABLE rc2
                OUTPUT_VARIABLE out2 ERROR_VARIABLE err2)
if(NOT rc2 EQUAL 0)
  message(FATAL_ERROR "aasim run --backend redis ${FILE} failed (${rc2}):\n${out2}${err2}")
endif()
if(NOT out1 STREQUAL out2)
  message(FATAL_ERROR "memory and redis backends differ on ${FILE}:\n--- memory\n${out1}\n--- redis\n${out2}")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/expected.cmake)
check_expected("${out2}" "aasim run --backend redis ${FILE}")
string(REGEX MATCH "digest [0-9a-f]+" digest "${out2}")
message(STATUS "${FILE}: identical on memory and redis, ${digest}")
