{
  "targets": [
    {
      "target_name": "netmap_bindings",
      "sources": ["src/native/binding.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
