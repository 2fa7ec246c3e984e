# OTC_SANITIZE="address;undefined" or "thread": applied to every target in the tree.
if(OTC_SANITIZE)
  string(REPLACE ";" "," _otc_san "${OTC_SANITIZE}")
  add_compile_options(-fsanitize=${_otc_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_otc_san})
  message(STATUS "otelc: sanitizers ${_otc_san}")
endif()
