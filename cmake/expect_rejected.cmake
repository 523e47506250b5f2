# Runs `aasim run FILE` on an invalid scenario: it must exit 2, print EXPECTED (a regex)
# on stderr, and run nothing.
execute_process(COMMAND ${AASIM} run ${FILE} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit code 2 for ${FILE}, got ${rc}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT err MATCHES "${EXPECTED}")
  message(FATAL_ERROR "stderr of ${FILE} does not match '${EXPECTED}':\n${err}")
endif()
if(NOT out STREQUAL "")
  message(FATAL_ERROR "a rejected scenario printed output (something ran):\n${out}")
endif()
