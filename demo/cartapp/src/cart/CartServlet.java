package cart;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;

/**
 * A tiny shopping cart to show session stickiness and replication.
 *
 *   GET  /             HTML page: answering node, session id, cart, add form
 *   POST /add          book=Title: add to the cart, then 303 back to /
 *   GET  /add?book=T   the same for scripts; answers like /cart.json
 *   GET  /cart.json    {"node":"tomcat1","session":"ID.tomcat1","books":[...]}
 *   GET  /health       "ok" (creates no session)
 *
 * The node name comes from -Dsticky.node (set in each instance's setenv.sh);
 * the session id ends with ".jvmRoute" of the Tomcat that created it.
 */
public class CartServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private static final String CART = "cart";
    private static final String[] SUGGESTED = {
        "Tomcat: The Definitive Guide", "Java Concurrency in Practice",
        "Nginx HTTP Server", "Effective Java",
    };

    private static String node() {
        return System.getProperty("sticky.node", "unknown");
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        switch (req.getServletPath()) {
            case "/" -> page(req, resp);
            case "/cart.json" -> json(req, resp);
            case "/health" -> text(resp, 200, "ok");
            case "/add" -> {
                if (add(req, resp)) json(req, resp);
            }
            default -> text(resp, 404, "not found");
        }
    }

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        if (!"/add".equals(req.getServletPath())) {
            text(resp, 405, "method not allowed");
        } else if (add(req, resp)) {
            resp.setStatus(303);  // Post/Redirect/Get: reloading the page adds nothing
            resp.setHeader("Location", resp.encodeRedirectURL(req.getContextPath() + "/"));
        }
    }

    /** Adds ?book= to the cart; answers 400 and returns false when it is missing. */
    private boolean add(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String book = req.getParameter("book");
        if (book == null || book.isBlank()) {
            text(resp, 400, "missing book parameter");
            return false;
        }
        HttpSession session = req.getSession();
        Cart cart = cart(session);
        cart.add(book.strip());
        // Set the attribute again: the cluster managers replicate on
        // setAttribute, not on changes made inside the object.
        session.setAttribute(CART, cart);
        return true;
    }

    private static Cart cart(HttpSession session) {
        Cart cart = (Cart) session.getAttribute(CART);
        return cart != null ? cart : new Cart();
    }

    private void json(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        HttpSession session = req.getSession();
        StringBuilder books = new StringBuilder();
        for (String b : cart(session).getBooks()) {
            books.append(books.length() == 0 ? "" : ",").append(jsonString(b));
        }
        resp.setContentType("application/json;charset=UTF-8");
        resp.setHeader("Cache-Control", "no-store");
        resp.getWriter().printf("{\"node\":%s,\"session\":%s,\"books\":[%s]}%n",
                jsonString(node()), jsonString(session.getId()), books);
    }

    private void page(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        HttpSession session = req.getSession();
        String add = resp.encodeURL(req.getContextPath() + "/add");
        resp.setContentType("text/html;charset=UTF-8");
        resp.setHeader("Cache-Control", "no-store");
        PrintWriter out = resp.getWriter();
        out.println("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Cart on "
                + html(node()) + "</title></head><body style=\"font-family:sans-serif\">");
        out.println("<h1>Book cart</h1>");
        out.println("<p>Answered by node <b id=\"node\">" + html(node()) + "</b><br>");
        out.println("Session <code id=\"session\">" + html(session.getId()) + "</code>"
                + (session.isNew() ? " (new)" : "") + "</p>");
        List<String> books = cart(session).getBooks();
        out.println("<h2>Cart</h2>" + (books.isEmpty() ? "<p>empty</p>" : "") + "<ul id=\"books\">");
        for (String b : books) {
            out.println("<li>" + html(b) + "</li>");
        }
        out.println("</ul>");
        out.println("<form method=\"post\" action=\"" + html(add) + "\">"
                + "<input name=\"book\" placeholder=\"Book title\" required> "
                + "<button>Add</button></form>");
        out.println("<p>Or add one of these:</p>");
        for (String s : SUGGESTED) {
            out.println("<form method=\"post\" action=\"" + html(add) + "\" style=\"display:inline\">"
                    + "<input type=\"hidden\" name=\"book\" value=\"" + html(s) + "\">"
                    + "<button>" + html(s) + "</button></form>");
        }
        out.println("<p><a href=\"" + html(resp.encodeURL(req.getContextPath() + "/cart.json"))
                + "\">cart.json</a></p></body></html>");
    }

    private static void text(HttpServletResponse resp, int status, String body) throws IOException {
        resp.setStatus(status);
        resp.setContentType("text/plain;charset=UTF-8");
        resp.getWriter().println(body);
    }

    private static String html(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("\"", "&quot;").replace("'", "&#39;");
    }

    private static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
