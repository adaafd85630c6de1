package dev.polytrack.conformance;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.polytrack.client.PolytrackClient;
import dev.polytrack.client.PolytrackException;
import dev.polytrack.client.RetryPolicy;
import dev.polytrack.v1.ArtifactsServiceGrpc;
import dev.polytrack.v1.ModelRegistryServiceGrpc;
import dev.polytrack.v1.TrackingServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Conformance executor of the Java client: forwards calls, judges nothing.
 *
 * <pre>
 *   java -cp polytrack-client-all.jar dev.polytrack.conformance.ConformanceExecutor --transport grpc --target 127.0.0.1:5001
 * </pre>
 *
 * <p>Reads one JSON request per line on stdin and writes one JSON answer per line on stdout until end of
 * input, in the protocol of conformance/README.md (the same answers as the Python executor's gRPC
 * transport): the request JSON becomes the request message with protobuf's JSON parser, the call goes
 * through {@link PolytrackClient} with one attempt, and the response is printed as protobuf JSON with the
 * proto's field names; a refused call is printed as its error code, HTTP status, message and gRPC status.
 */
public final class ConformanceExecutor {
    private static final List<ServiceDescriptor> SERVICES = List.of(TrackingServiceGrpc.getServiceDescriptor(),
            ModelRegistryServiceGrpc.getServiceDescriptor(), ArtifactsServiceGrpc.getServiceDescriptor());
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    private static final JsonFormat.Printer PRINTER =
            JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();

    private final PolytrackClient client;

    ConformanceExecutor(PolytrackClient client) {
        this.client = client;
    }

    /**
     * @param args {@code --transport grpc --target HOST:PORT}
     * @throws Exception when stdin or stdout fail
     */
    public static void main(String[] args) throws Exception {
        String transport = null;
        String target = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--transport" -> transport = args[i + 1];
                case "--target" -> target = args[i + 1];
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (!"grpc".equals(transport) || target == null) {
            usage("expected --transport grpc --target HOST:PORT (the Java client speaks gRPC only)");
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (PolytrackClient client = PolytrackClient.forTarget(target).withRetry(RetryPolicy.NEVER).build()) {
            ConformanceExecutor executor = new ConformanceExecutor(client);
            String raw;
            while ((raw = in.readLine()) != null) {
                if (raw.isBlank()) {
                    continue;
                }
                JsonObject line;
                try {
                    line = JsonParser.parseString(raw).getAsJsonObject();
                } catch (JsonParseException | IllegalStateException error) {
                    System.err.println("executor: input is not a JSON object: " + error.getMessage());
                    System.exit(2);
                    return;
                }
                JsonObject reply = new JsonObject();
                JsonElement id = line.get("id");
                reply.add("id", id == null ? JsonNull.INSTANCE : id);
                executor.answer(line, reply);
                out.print(GSON.toJson(reply));
                out.print('\n');
                out.flush();
            }
        }
    }

    private static void usage(String problem) {
        System.err.println("executor: " + problem);
        System.exit(2);
    }

    /** Adds the answer to one request line (response, error or failure) to {@code reply}. */
    @SuppressWarnings("unchecked")
    void answer(JsonObject line, JsonObject reply) {
        String kind = stringOr(line, "kind", null);
        if (!"rpc".equals(kind)) {
            reply.addProperty("failure", "this executor handles kind 'rpc' only, got " + kind);
            return;
        }
        String serviceName = stringOr(line, "service", "polytrack.v1.TrackingService");
        String methodName = stringOr(line, "method", "");
        MethodDescriptor<Message, Message> method = null;
        for (ServiceDescriptor service : SERVICES) {
            if (service.getName().equals(serviceName)) {
                for (MethodDescriptor<?, ?> candidate : service.getMethods()) {
                    if (candidate.getBareMethodName().equals(methodName)) {
                        method = (MethodDescriptor<Message, Message>) candidate;
                    }
                }
            }
        }
        if (method == null) {
            reply.addProperty("failure", "unknown RPC " + serviceName + "." + methodName);
            return;
        }
        if (method.getType() != MethodDescriptor.MethodType.UNARY) {
            reply.addProperty("failure", serviceName + "." + methodName + " is a stream, not one request and one answer");
            return;
        }
        Message prototype = (Message)
                ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller()).getMessagePrototype();
        Message.Builder request = prototype.newBuilderForType();
        JsonElement body = line.get("request");
        try {
            PARSER.merge(body == null || body.isJsonNull() ? "{}" : GSON.toJson(body), request);
        } catch (InvalidProtocolBufferException | RuntimeException error) {
            reply.addProperty("failure", "request is not a valid "
                    + prototype.getDescriptorForType().getName() + ": " + error.getMessage());
            return;
        }
        Message response;
        try {
            response = client.call(method, request.build(), RetryPolicy.NEVER);
        } catch (PolytrackException error) {
            JsonObject reported = new JsonObject();
            reported.addProperty("error_code", error.errorCode());
            if (error.httpStatus().isPresent()) {
                reported.addProperty("http_status", error.httpStatus().get());
            } else {
                reported.add("http_status", JsonNull.INSTANCE);
            }
            reported.addProperty("message", error.getMessage());
            reported.addProperty("grpc_status", error.grpcStatus().name());
            reply.add("error", reported);
            return;
        }
        try {
            reply.add("response", JsonParser.parseString(PRINTER.print(response)));
        } catch (InvalidProtocolBufferException error) {
            reply.addProperty("failure", "cannot print the response as JSON: " + error.getMessage());
        }
    }

    private static String stringOr(JsonObject line, String key, String fallback) {
        JsonElement value = line.get(key);
        return value == null || value.isJsonNull() ? fallback : value.getAsString();
    }
}
