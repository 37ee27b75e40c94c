# certs.sh DIR: a test CA, a server certificate for 127.0.0.1/localhost, a
# client certificate, and a second unrelated CA (for "wrong CA" tests).
# Sourced or run; writes DIR/{ca,server,client,other-ca}.{crt,key}.
mkcerts() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kscript test CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
      -keyout other-ca.key -out other-ca.crt 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:test.kscript.local\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=client/O=test" -keyout client.key -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out client.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=stranger" -keyout stranger.key -out stranger.csr 2>/dev/null
    openssl x509 -req -in stranger.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out stranger.crt 2>/dev/null
  )
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then mkcerts "$1"; fi
