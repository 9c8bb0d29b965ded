import subprocess
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        host = query.get("host", ["localhost"])[0]
        # Report whether the host answers a ping.
        result = subprocess.run("ping -c 1 " + host, shell=True, capture_output=True)
        self.send_response(200 if result.returncode == 0 else 502)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("", 8080), Handler).serve_forever()
