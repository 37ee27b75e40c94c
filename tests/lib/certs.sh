# certs.sh DIR: a test CA, a server certificate for 127.0.0.1/localhost, a
# client certificate, a second unrelated CA (for "wrong CA" tests) and a
# server certificate that expired in 2020.
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
    # a server certificate from the test CA that expired in 2020
    printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n' > ca.cnf
    : > index.txt; echo 01 > serial
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout expired.key -out expired.csr 2>/dev/null
    openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -startdate 20200101000000Z \
      -enddate 20200102000000Z -notext -in expired.csr -out expired.crt 2>/dev/null
  )
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then mkcerts "$1"; fi
