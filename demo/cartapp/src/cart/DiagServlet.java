package cart;

import jakarta.servlet.ServletConnection;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.management.ObjectName;

/**
 * What the container saw, and answers of every shape, for the tests of the
 * proxies in front (t/5*.t: nginx with ajp_pass). Every answer carries
 * X-Node (the node's name) so that who answered is known without a body.
 *
 *   ANY  /echo[/...]           JSON: the request as the container saw it
 *                              (method, URI, query, protocol, secure, scheme,
 *                              server name/port, remote address/host/port,
 *                              local address, remote user, auth type, the
 *                              TLS attributes and client certificate, the
 *                              request attributes, ?attr=A,B by name, every
 *                              header in order, the body's length, MD5 and
 *                              SHA-256 (read fully), the connection id, the
 *                              node and its jvmRoute); &status=C: with
 *                              status C, unless the request has the
 *                              attribute named by &unless=NAME
 * Each path but /echo also answers under itself (/stream/x is /stream), for
 * proxy locations with other settings.
 *
 *   GET  /big?mb=N|bytes=N     N MiB (or bytes) of 1 KiB lines
 *                              "%010d " + FILLER + "\n" (line k, from 0),
 *                              with Content-Length unless &chunked=1
 *   GET  /stream?chunks=N&delay=MS[&size=B]
 *                              N chunks, each flushed (AJP: an empty body
 *                              chunk), MS ms apart; no Content-Length
 *   ANY  /status?code=C        status C; no body for 1xx, 204, 304 (others:
 *                              a one-line body)
 *   GET  /slow?ms=N            answers after N ms
 *   GET  /conn                 {"node":..,"connection":..}: the id of the
 *                              connection the request came on (AJP: the
 *                              proxy's connection)
 *   GET  /invalidate           invalidates the request's session, if any
 */
public class DiagServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    /** The 1012 characters after "%010d " on every line of /big. */
    static final String FILLER;
    static {
        String abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 1012) {
            sb.append(abc);
        }
        FILLER = sb.substring(0, 1012);
    }

    private static volatile String jvmRoute;

    private static String node() {
        return System.getProperty("sticky.node", "unknown");
    }

    /** The Engine's jvmRoute, read from JMX once. */
    private static String jvmRoute() {
        String r = jvmRoute;
        if (r == null) {
            try {
                Object v = ManagementFactory.getPlatformMBeanServer()
                        .getAttribute(new ObjectName("Catalina:type=Engine"), "jvmRoute");
                r = v == null ? "" : v.toString();
            } catch (Exception e) {
                r = "";
            }
            jvmRoute = r;
        }
        return r;
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setHeader("X-Node", node());
        resp.setHeader("Cache-Control", "no-store");
        Map<String, String> q = query(req.getQueryString());
        String path = req.getServletPath();   // /echo/x: /echo, pathInfo /x
        try {
            switch (path) {
                case "/echo" -> echo(req, resp, q);
                case "/big" -> big(resp, q);
                case "/stream" -> stream(resp, q);
                case "/status" -> status(resp, q);
                case "/slow" -> slow(resp, q);
                case "/conn" -> conn(req, resp);
                case "/invalidate" -> invalidate(req, resp);
                default -> {
                    resp.setStatus(404);
                    resp.setContentType("text/plain;charset=UTF-8");
                    resp.getWriter().println("not found");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    // --- /echo ---------------------------------------------------------------

    private void echo(HttpServletRequest req, HttpServletResponse resp, Map<String, String> q)
            throws IOException {
        // The body first, read fully, before anything else can touch it.
        MessageDigest md5 = digest("MD5");
        MessageDigest sha = digest("SHA-256");
        long length = 0;
        ServletInputStream in = req.getInputStream();
        byte[] buf = new byte[65536];
        for (int n; (n = in.read(buf)) > 0; ) {
            md5.update(buf, 0, n);
            sha.update(buf, 0, n);
            length += n;
        }

        Json j = new Json();
        j.field("node", node());
        j.field("jvmRoute", jvmRoute());
        j.field("method", req.getMethod());
        j.field("requestURI", req.getRequestURI());
        j.field("pathInfo", req.getPathInfo());
        j.field("queryString", req.getQueryString());
        j.field("protocol", req.getProtocol());
        j.field("isSecure", req.isSecure());
        j.field("scheme", req.getScheme());
        j.field("serverName", req.getServerName());
        j.field("serverPort", req.getServerPort());
        j.field("remoteAddr", req.getRemoteAddr());
        j.field("remoteHost", req.getRemoteHost());
        j.field("remotePort", req.getRemotePort());
        j.field("localAddr", req.getLocalAddr());
        j.field("localName", req.getLocalName());
        j.field("localPort", req.getLocalPort());
        j.field("remoteUser", req.getRemoteUser());
        j.field("authType", req.getAuthType());
        j.field("requestedSessionId", req.getRequestedSessionId());
        j.field("requestedSessionIdValid", req.isRequestedSessionIdValid());
        ServletConnection c = req.getServletConnection();
        j.field("connection", c == null ? null : c.getConnectionId());
        j.field("contentLength", req.getContentLengthLong());
        j.field("contentType", req.getContentType());

        Json tls = new Json();
        Object certs = req.getAttribute("jakarta.servlet.request.X509Certificate");
        if (certs instanceof X509Certificate[] chain && chain.length > 0) {
            tls.field("certSubject", chain[0].getSubjectX500Principal().getName());
            tls.field("certIssuer", chain[0].getIssuerX500Principal().getName());
            tls.field("certSerial", chain[0].getSerialNumber().toString(16));
            tls.field("certCount", chain.length);
        } else {
            tls.field("certSubject", (String) null);
        }
        tls.field("cipherSuite", str(req.getAttribute("jakarta.servlet.request.cipher_suite")));
        tls.field("keySize", str(req.getAttribute("jakarta.servlet.request.key_size")));
        tls.field("sessionId", str(req.getAttribute("jakarta.servlet.request.ssl_session_id")));
        tls.field("protocol", str(firstAttribute(req,
                "jakarta.servlet.request.secure_protocol",
                "org.apache.tomcat.util.net.secure_protocol_version")));
        j.raw("tls", tls.end());

        // Every request attribute the container holds (certificates aside),
        // and the AJP ones by name: Tomcat consumes AJP_REMOTE_PORT and
        // AJP_LOCAL_ADDR (remotePort, localAddr above) and renames
        // AJP_SSL_PROTOCOL (tls.protocol).
        Json attrs = new Json();
        List<String> names = new ArrayList<>(Collections.list(req.getAttributeNames()));
        Collections.sort(names);
        for (String n : names) {
            if (!n.equals("jakarta.servlet.request.X509Certificate")) {
                attrs.field(n, str(req.getAttribute(n)));
            }
        }
        j.raw("attributes", attrs.end());
        Json named = new Json();
        List<String> wanted = new ArrayList<>(List.of("AJP_REMOTE_PORT", "AJP_LOCAL_ADDR",
                "AJP_SSL_PROTOCOL", "JK_LB_ACTIVATION"));
        String extra = q.get("attr");
        if (extra != null) {
            for (String n : extra.split(",")) {
                if (!n.isEmpty() && !wanted.contains(n)) wanted.add(n);
            }
        }
        for (String n : wanted) {
            named.field(n, str(req.getAttribute(n)));
        }
        j.raw("attr", named.end());

        StringBuilder headers = new StringBuilder("[");
        for (String name : Collections.list(req.getHeaderNames())) {
            for (String value : Collections.list(req.getHeaders(name))) {
                if (headers.length() > 1) headers.append(',');
                headers.append('[').append(Json.string(name)).append(',')
                        .append(Json.string(value)).append(']');
            }
        }
        j.raw("headers", headers.append(']').toString());

        Json body = new Json();
        body.field("length", length);
        body.field("md5", HexFormat.of().formatHex(md5.digest()));
        body.field("sha256", HexFormat.of().formatHex(sha.digest()));
        j.raw("body", body.end());

        // ?status=C: answer with status C (the same JSON), unless the request
        // has the attribute named by ?unless= (an ajp_param of a retry)
        String status = q.get("status");
        String unless = q.get("unless");
        if (status != null && (unless == null || req.getAttribute(unless) == null)) {
            resp.setStatus(Integer.parseInt(status));
        }
        send(resp, j.end());
    }

    private static Object firstAttribute(HttpServletRequest req, String... names) {
        for (String n : names) {
            Object v = req.getAttribute(n);
            if (v != null) return v;
        }
        return null;
    }

    // --- /big, /stream, /status, /slow, /conn, /invalidate -------------------------

    private void big(HttpServletResponse resp, Map<String, String> q) throws IOException {
        long bytes = q.containsKey("bytes") ? Long.parseLong(q.get("bytes"))
                : Math.round(Double.parseDouble(q.getOrDefault("mb", "1")) * 1048576);
        resp.setContentType("application/octet-stream");
        if (!"1".equals(q.get("chunked"))) {
            resp.setContentLengthLong(bytes);
        }
        ServletOutputStream out = resp.getOutputStream();
        byte[] filler = FILLER.getBytes(StandardCharsets.US_ASCII);
        byte[] block = new byte[64 * 1024];
        long line = 0;
        long left = bytes;
        while (left > 0) {
            // 64 lines per block
            for (int i = 0; i < 64; i++, line++) {
                int off = i * 1024;
                byte[] num = String.format("%010d ", line).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(num, 0, block, off, 11);
                System.arraycopy(filler, 0, block, off + 11, 1012);
                block[off + 1023] = '\n';
            }
            int n = (int) Math.min(left, block.length);
            out.write(block, 0, n);
            left -= n;
        }
    }

    private void stream(HttpServletResponse resp, Map<String, String> q)
            throws IOException, InterruptedException {
        int chunks = Integer.parseInt(q.getOrDefault("chunks", "5"));
        long delay = Long.parseLong(q.getOrDefault("delay", "200"));
        int size = Integer.parseInt(q.getOrDefault("size", "0"));
        resp.setContentType("text/plain;charset=UTF-8");
        ServletOutputStream out = resp.getOutputStream();
        for (int i = 1; i <= chunks; i++) {
            StringBuilder sb = new StringBuilder(String.format("chunk %d of %d", i, chunks));
            while (sb.length() < size - 1) sb.append('.');
            out.write(sb.append('\n').toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            if (i < chunks) Thread.sleep(delay);
        }
    }

    private void status(HttpServletResponse resp, Map<String, String> q) throws IOException {
        int code = Integer.parseInt(q.getOrDefault("code", "200"));
        resp.setStatus(code);
        if (code == 304) {
            resp.setHeader("ETag", "\"diag\"");
        }
        if (code >= 200 && code != 204 && code != 304) {
            resp.setContentType("text/plain;charset=UTF-8");
            resp.getWriter().println("status " + code);
        }
    }

    private void slow(HttpServletResponse resp, Map<String, String> q)
            throws IOException, InterruptedException {
        long ms = Long.parseLong(q.getOrDefault("ms", "1000"));
        Thread.sleep(ms);
        Json j = new Json();
        j.field("node", node());
        j.field("slept", ms);
        send(resp, j.end());
    }

    private void conn(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        ServletConnection c = req.getServletConnection();
        Json j = new Json();
        j.field("node", node());
        j.field("connection", c == null ? null : c.getConnectionId());
        send(resp, j.end());
    }

    private void invalidate(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        HttpSession s = req.getSession(false);
        Json j = new Json();
        j.field("node", node());
        j.field("invalidated", s == null ? null : s.getId());
        if (s != null) {
            s.invalidate();
        }
        send(resp, j.end());
    }

    // --- helpers -----------------------------------------------------------------------

    private static void send(HttpServletResponse resp, String json) throws IOException {
        byte[] b = json.concat("\n").getBytes(StandardCharsets.UTF_8);
        resp.setContentType("application/json;charset=UTF-8");
        resp.setContentLength(b.length);
        resp.getOutputStream().write(b);
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    private static MessageDigest digest(String name) {
        try {
            return MessageDigest.getInstance(name);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The query string's parameters (the last value of a name wins); the
     *  body is never read for them. */
    private static Map<String, String> query(String qs) {
        Map<String, String> m = new TreeMap<>();
        if (qs == null) return m;
        for (String pair : qs.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                m.put(URLDecoder.decode(k, StandardCharsets.UTF_8),
                        URLDecoder.decode(v, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                m.put(k, v);
            }
        }
        return m;
    }

    /** A JSON object built field by field; strings escaped to ASCII. */
    static final class Json {
        private final Map<String, String> fields = new LinkedHashMap<>();

        void field(String name, String value) {
            fields.put(name, value == null ? "null" : string(value));
        }

        void field(String name, long value) {
            fields.put(name, Long.toString(value));
        }

        void field(String name, boolean value) {
            fields.put(name, Boolean.toString(value));
        }

        void raw(String name, String json) {
            fields.put(name, json);
        }

        String end() {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<String, String> e : fields.entrySet()) {
                if (sb.length() > 1) sb.append(',');
                sb.append(string(e.getKey())).append(':').append(e.getValue());
            }
            return sb.append('}').toString();
        }

        static String string(String s) {
            StringBuilder sb = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20 || c > 0x7e) sb.append(String.format("\\u%04x", (int) c));
                        else sb.append(c);
                    }
                }
            }
            return sb.append('"').toString();
        }
    }
}
