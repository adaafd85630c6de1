package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Registered models, versions, aliases, stages and the registry searches on a live server. */
class RegistryTest extends LiveServerTest {
    private static String newRun() {
        String experimentId = client.createExperiment("registry-" + UUID.randomUUID());
        return client.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).build())
                .getRun().getInfo().getRunId();
    }

    private static ModelVersion createVersion(String model, String runId) {
        return client.registry().createModelVersion(CreateModelVersionRequest.newBuilder().setName(model)
                .setSource("runs:/" + runId + "/model").setRunId(runId).build()).getModelVersion();
    }

    @Test
    void modelsVersionsAliasesAndStages() {
        Registry registry = client.registry();
        String name = "model-" + UUID.randomUUID();
        RegisteredModel model = registry.createRegisteredModel(CreateRegisteredModelRequest.newBuilder()
                .setName(name).setDescription("first").build()).getRegisteredModel();
        assertEquals(name, model.getName());
        registry.updateRegisteredModel(UpdateRegisteredModelRequest.newBuilder().setName(name)
                .setDescription("second").build());
        registry.setRegisteredModelTag(SetRegisteredModelTagRequest.newBuilder().setName(name).setKey("team")
                .setValue("ml").build());

        String runId = newRun();
        ModelVersion v1 = createVersion(name, runId);
        ModelVersion v2 = createVersion(name, runId);
        assertEquals("1", v1.getVersion());
        assertEquals("2", v2.getVersion());

        registry.setRegisteredModelAlias(SetRegisteredModelAliasRequest.newBuilder().setName(name)
                .setAlias("champion").setVersion("2").build());
        ModelVersion champion = registry.getModelVersionByAlias(GetModelVersionByAliasRequest.newBuilder()
                .setName(name).setAlias("champion").build()).getModelVersion();
        assertEquals("2", champion.getVersion());
        assertTrue(champion.getAliasesList().contains("champion"));

        registry.transitionModelVersionStage(TransitionModelVersionStageRequest.newBuilder().setName(name)
                .setVersion("1").setStage("Production").setArchiveExistingVersions(false).build());
        List<ModelVersion> latest = registry.getLatestVersions(GetLatestVersionsRequest.newBuilder().setName(name)
                .addStages("Production").build()).getModelVersionsList();
        assertEquals(List.of("1"), latest.stream().map(ModelVersion::getVersion).toList());

        registry.setModelVersionTag(SetModelVersionTagRequest.newBuilder().setName(name).setVersion("1")
                .setKey("validated").setValue("yes").build());
        registry.updateModelVersion(UpdateModelVersionRequest.newBuilder().setName(name).setVersion("1")
                .setDescription("the first").build());
        ModelVersion fetched = registry.getModelVersion(GetModelVersionRequest.newBuilder().setName(name)
                .setVersion("1").build()).getModelVersion();
        assertEquals("Production", fetched.getCurrentStage());
        assertEquals("the first", fetched.getDescription());

        registry.deleteRegisteredModelAlias(DeleteRegisteredModelAliasRequest.newBuilder().setName(name)
                .setAlias("champion").build());
        // An unknown alias is a bad parameter, as MLflow answers it (conformance: aliases/unknown-alias).
        PolytrackException missingAlias = assertThrows(InvalidParameterException.class, () ->
                registry.getModelVersionByAlias(GetModelVersionByAliasRequest.newBuilder().setName(name)
                        .setAlias("champion").build()));
        assertEquals("INVALID_PARAMETER_VALUE", missingAlias.errorCode());
        assertEquals(400, missingAlias.httpStatus().orElseThrow());

        registry.deleteModelVersion(DeleteModelVersionRequest.newBuilder().setName(name).setVersion("2").build());
        assertEquals("3", createVersion(name, runId).getVersion(), "version numbers are never reused");

        String renamed = name + "-renamed";
        registry.renameRegisteredModel(RenameRegisteredModelRequest.newBuilder().setName(name).setNewName(renamed)
                .build());
        assertEquals(renamed, registry.getRegisteredModel(GetRegisteredModelRequest.newBuilder().setName(renamed)
                .build()).getRegisteredModel().getName());
        registry.deleteRegisteredModel(DeleteRegisteredModelRequest.newBuilder().setName(renamed).build());
        assertThrows(ResourceNotFoundException.class, () -> registry.getRegisteredModel(
                GetRegisteredModelRequest.newBuilder().setName(renamed).build()));
    }

    @Test
    void searchIterators() {
        String prefix = "searched-" + UUID.randomUUID();
        String runId = newRun();
        for (int i = 0; i < 5; i++) {
            client.registry().createRegisteredModel(CreateRegisteredModelRequest.newBuilder()
                    .setName(prefix + "-" + i).build());
        }
        for (int i = 0; i < 4; i++) {
            createVersion(prefix + "-0", runId);
        }
        List<String> models = new ArrayList<>();
        client.iterateRegisteredModels(SearchRegisteredModelsRequest.newBuilder()
                .setFilter("name LIKE '" + prefix + "%'").setMaxResults(2).build()).forEach(m -> models.add(m.getName()));
        assertEquals(5, models.size());
        List<String> versions = new ArrayList<>();
        client.iterateModelVersions(SearchModelVersionsRequest.newBuilder()
                .setFilter("name = '" + prefix + "-0'").setMaxResults(3).build()).forEach(v -> versions.add(v.getVersion()));
        assertEquals(4, versions.size());
    }
}
