# Included by the scenario test scripts: when EXPECTED names a file, fails unless OUT (the
# output of `aasim run`, run from the source directory with a relative file name) equals it
# byte for byte. The expected outputs in tests/expected/ pin every scenario's table, replies,
# metrics and digest, so a refactoring that changes any of them is caught.
# To accept an intended change: scripts/update_expected.sh, then review the diff.
function(check_expected OUT WHAT)
  if(NOT EXPECTED)
    return()
  endif()
  file(READ ${EXPECTED} want)
  if(NOT OUT STREQUAL want)
    file(WRITE ${EXPECTED}.actual "${OUT}")
    message(FATAL_ERROR "${WHAT}: output differs from ${EXPECTED} (actual output written to "
                        "${EXPECTED}.actual; diff the two)")
  endif()
endfunction()
