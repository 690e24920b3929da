<%@ page session="false" contentType="text/plain; charset=UTF-8" %><%
    // sticky.node is set per Tomcat by t/tomcat/cluster.sh
    response.setHeader("X-Node", System.getProperty("sticky.node", "unknown"));
%>node=<%= System.getProperty("sticky.node", "unknown") %> uri=<%= request.getRequestURI() %>
