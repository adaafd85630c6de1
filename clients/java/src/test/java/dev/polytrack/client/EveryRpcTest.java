package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import dev.polytrack.v1.ArtifactsServiceGrpc;
import dev.polytrack.v1.ModelRegistryServiceGrpc;
import dev.polytrack.v1.TrackingServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every unary RPC of the three services has its method on the client (a new RPC in the protos fails here). */
class EveryRpcTest {
    @Test
    void everyUnaryRpcHasAClientMethod() {
        Map<ServiceDescriptor, Class<?>> facades = Map.of(
                TrackingServiceGrpc.getServiceDescriptor(), Tracking.class,
                ModelRegistryServiceGrpc.getServiceDescriptor(), Registry.class,
                ArtifactsServiceGrpc.getServiceDescriptor(), Artifacts.class);
        List<String> missing = new ArrayList<>();
        int checked = 0;
        for (Map.Entry<ServiceDescriptor, Class<?>> entry : facades.entrySet()) {
            for (MethodDescriptor<?, ?> rpc : entry.getKey().getMethods()) {
                if (rpc.getType() != MethodDescriptor.MethodType.UNARY) {
                    continue;
                }
                Class<?> requestClass = ((MethodDescriptor.PrototypeMarshaller<?>) rpc.getRequestMarshaller())
                        .getMessagePrototype().getClass();
                String name = Character.toLowerCase(rpc.getBareMethodName().charAt(0))
                        + rpc.getBareMethodName().substring(1);
                try {
                    Method method = entry.getValue().getMethod(name, requestClass);
                    assertTrue(Message.class.isAssignableFrom(method.getReturnType()));
                    checked++;
                } catch (NoSuchMethodException absent) {
                    missing.add(entry.getValue().getSimpleName() + "." + name);
                }
            }
        }
        assertEquals(List.of(), missing);
        assertEquals(49, checked);
    }

    @Test
    void onlyCreatesAndRenamesAreNeverRetried() {
        assertTrue(RpcInvoker.isRetrySafe("GetRun"));
        assertTrue(RpcInvoker.isRetrySafe("SearchModelVersions"));
        assertTrue(RpcInvoker.isRetrySafe("LogBatch"));
        assertTrue(!RpcInvoker.isRetrySafe("CreateRun"));
        assertTrue(!RpcInvoker.isRetrySafe("CreateModelVersion"));
        assertTrue(!RpcInvoker.isRetrySafe("RenameRegisteredModel"));
    }
}
