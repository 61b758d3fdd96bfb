# Sums the self instructions of `callgrind_annotate --auto=no` function lines
# ("  1,234 (12.3%)  file:function [binary]") by where the code comes from, for
# scripts/callgrind.sh. Code inlined into a function counts for that function's crate (with
# whole-program LTO most std and small-crate code is inlined into stsscan's own functions).
/PROGRAM TOTALS/ { next }
{
  n = $1; gsub(",", "", n)
  line = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", line); sub(/ \[[^]]*\]$/, "", line)
  i = index(line, ":"); file = substr(line, 1, i - 1); fn = substr(line, i + 1)
  c = "other"
  if (fn ~ /sha2::|compress256/ || file ~ /\/sha2-/) c = "sha2 (RustCrypto SHA-256)"
  else if (fn ~ /^ring|ring::|ring_core|^__ecp|^fe_|^ge_|^table_select|^x25519|^sc_|^ecp_nistz/ || file ~ /\/ring-0/) c = "ring (crypto)"
  else if (file ~ /sysdeps\/x86_64\/multiarch\/mem|string\//) c = "libc memcpy/memset/memcmp"
  else if (fn ~ /^_?mi_|mimalloc/ || file ~ /mimalloc/) c = "allocator (mimalloc)"
  else if (fn ~ /parquet|arrow|zstd|ZSTD|flatbuffers|HIST_|FSE_|HUF_/ || file ~ /zstd|parquet|arrow/) c = "Parquet, Arrow, zstd"
  else if (fn ~ /rustls|webpki/) c = "rustls, webpki"
  else if (fn ~ /hickory/) c = "hickory-proto"
  else if (fn ~ /tokio|mio::/) c = "tokio, mio"
  else if (fn ~ /stsscan/) c = "stsscan (inlined std and crates included)"
  else if (file ~ /^\.\// || fn ~ /GLIBC|@@/) c = "libc (other)"
  sum[c] += n; tot += n
}
END { for (c in sum) printf "%15.0f %5.1f %%  %s\n", sum[c], 100 * sum[c] / tot, c | "sort -rn"; }
