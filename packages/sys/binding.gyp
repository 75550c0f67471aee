{
  "targets": [
    {
      "target_name": "netbe_sys",
      "sources": [
        "native/binding.c",
        "native/common.c",
        "native/io.c",
        "native/tap.c",
        "native/link.c",
        "native/watcher.c",
        "native/unix.c",
        "native/mem.c",
        "native/eventfd.c",
        "native/packet.c",
        "native/icmp.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
    }
  ]
}
