# Per-file SIMD flags of the CPU kernels. The library stays portable: each
# variant is compiled for its ISA and chosen at run time by CPU features
# (rf_cpu_kernels_init), never by -march=native.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(_rf_avx512 "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni")
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/backend/cpu/cpu_avx2.c
    TARGET_DIRECTORY rocmforge PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/backend/cpu/cpu_avx512.c
    TARGET_DIRECTORY rocmforge PROPERTIES COMPILE_OPTIONS "${_rf_avx512}")
  # AMX (cpu_amx.c) where the compiler knows it; without, the file builds
  # an empty variant.
  include(CheckCCompilerFlag)
  check_c_compiler_flag("-mamx-tile -mamx-int8" RF_CC_HAS_AMX)
  if(RF_CC_HAS_AMX)
    set_source_files_properties(${CMAKE_SOURCE_DIR}/src/backend/cpu/cpu_amx.c
      TARGET_DIRECTORY rocmforge PROPERTIES COMPILE_OPTIONS "${_rf_avx512};-mamx-tile;-mamx-int8")
  endif()
endif()
