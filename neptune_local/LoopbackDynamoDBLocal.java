import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local's own server (its command line, its request handlers, its storage), listening on the
 * loopback interface only. Its command line has no option for the address
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html#DynamoDBLocal.CommandLineOptions)
 * and its Jetty server listens on every interface, which would put the local run's tables on the network.
 * The server is built exactly as DynamoDBLocal.jar's main class builds it; only its connector's host is set
 * before it starts. Telemetry is never configured here, so none is sent (the run also passes
 * -disableTelemetry).
 *
 * Compiled by neptune_local/dynamodb_local.py against the pinned DynamoDBLocal.jar; it fails loudly (and
 * the run with it) if a later DynamoDB Local is built differently, rather than listening on every interface.
 */
public final class LoopbackDynamoDBLocal {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int connectors = 0;
        for (Connector connector : server.getConnectors()) {
            if (!(connector instanceof ServerConnector)) {
                throw new IllegalStateException("DynamoDB Local has a connector that cannot be bound to " + HOST + ": " + connector);
            }
            ((ServerConnector) connector).setHost(HOST);
            connectors++;
        }
        if (connectors == 0) {
            throw new IllegalStateException("DynamoDB Local's server has no connector to bind to " + HOST);
        }
        proxy.start();
        proxy.join();
    }
}
