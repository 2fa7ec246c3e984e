# otc_warnings(target): the project's warning set, per target.
function(otc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
                         -Wno-unused-parameter)
  if(OTC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
