# Installs libmome into a scratch prefix, then configures, builds and runs examples/hello_mome against it.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/hello_mome -B ${WORK_DIR}/build -G ${GENERATOR}
                        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;${TORCH_PREFIX}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the example against the installed package failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the example failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/hello_mome ${SOURCE_DIR}/tests/data/llama/gqa_llama3_rope
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "hello_mome: ${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"ids\"")
  message(FATAL_ERROR "the example application failed (${rc}): ${out}")
endif()
