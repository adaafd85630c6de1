package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Experiments, runs, params, metrics, tags, batches, searches and their iterators on a live server. */
class TrackingTest extends LiveServerTest {
    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    @Test
    void experimentLifecycle() {
        Tracking tracking = client.tracking();
        String name = unique("exp");
        String id = client.createExperiment(name);

        Experiment byId = tracking.getExperiment(GetExperimentRequest.newBuilder().setExperimentId(id).build())
                .getExperiment();
        assertEquals(name, byId.getName());
        assertEquals("active", byId.getLifecycleStage());
        Experiment byName = tracking.getExperimentByName(
                GetExperimentByNameRequest.newBuilder().setExperimentName(name).build()).getExperiment();
        assertEquals(id, byName.getExperimentId());

        String renamed = unique("renamed");
        tracking.updateExperiment(UpdateExperimentRequest.newBuilder().setExperimentId(id).setNewName(renamed).build());
        tracking.setExperimentTag(
                SetExperimentTagRequest.newBuilder().setExperimentId(id).setKey("team").setValue("ml").build());
        Experiment updated = tracking.getExperiment(GetExperimentRequest.newBuilder().setExperimentId(id).build())
                .getExperiment();
        assertEquals(renamed, updated.getName());
        assertTrue(updated.getTagsList().stream().anyMatch(t -> t.getKey().equals("team") && t.getValue().equals("ml")));

        tracking.deleteExperiment(DeleteExperimentRequest.newBuilder().setExperimentId(id).build());
        assertEquals("deleted", tracking.getExperiment(GetExperimentRequest.newBuilder().setExperimentId(id).build())
                .getExperiment().getLifecycleStage());
        tracking.restoreExperiment(RestoreExperimentRequest.newBuilder().setExperimentId(id).build());
        assertEquals("active", tracking.getExperiment(GetExperimentRequest.newBuilder().setExperimentId(id).build())
                .getExperiment().getLifecycleStage());
    }

    @Test
    void runWithParamsMetricsTagsAndBatch() {
        Tracking tracking = client.tracking();
        String experimentId = client.createExperiment(unique("runs"));
        Run created = tracking.createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId)
                .setRunName("java-run").setStartTime(1000).build()).getRun();
        String runId = created.getInfo().getRunId();
        assertEquals(RunStatus.RUNNING, created.getInfo().getStatus());

        tracking.logParam(LogParamRequest.newBuilder().setRunId(runId).setKey("alpha").setValue("0.5").build());
        tracking.logMetric(LogMetricRequest.newBuilder().setRunId(runId).setKey("loss").setValue(0.25)
                .setTimestamp(2000).setStep(1).build());
        tracking.setTag(SetTagRequest.newBuilder().setRunId(runId).setKey("owner").setValue("java").build());
        tracking.logBatch(LogBatchRequest.newBuilder().setRunId(runId)
                .addMetrics(Metric.newBuilder().setKey("acc").setValue(0.9).setTimestamp(3000).setStep(2))
                .addParams(Param.newBuilder().setKey("beta").setValue("2"))
                .addTags(RunTag.newBuilder().setKey("stage").setValue("test"))
                .setMetricColumns(MetricColumns.newBuilder().addKeys("loss").addKeyIndexes(0).addValues(0.125)
                        .addTimestamps(4000).addSteps(2))
                .build());
        tracking.updateRun(UpdateRunRequest.newBuilder().setRunId(runId).setStatus(RunStatus.FINISHED)
                .setEndTime(5000).build());

        Run run = tracking.getRun(GetRunRequest.newBuilder().setRunId(runId).build()).getRun();
        assertEquals(RunStatus.FINISHED, run.getInfo().getStatus());
        assertEquals(5000, run.getInfo().getEndTime());
        assertEquals(Set.of("alpha", "beta"), keys(run.getData().getParamsList().stream().map(Param::getKey).toList()));
        assertTrue(run.getData().getTagsList().stream().anyMatch(t -> t.getKey().equals("owner")));
        assertTrue(run.getData().getTagsList().stream().anyMatch(t -> t.getKey().equals("stage")));
        List<Metric> loss = tracking.getMetricHistory(
                GetMetricHistoryRequest.newBuilder().setRunId(runId).setMetricKey("loss").build()).getMetricsList();
        assertEquals(List.of(0.25, 0.125), loss.stream().map(Metric::getValue).toList());

        tracking.deleteTag(DeleteTagRequest.newBuilder().setRunId(runId).setKey("owner").build());
        tracking.deleteRun(DeleteRunRequest.newBuilder().setRunId(runId).build());
        assertEquals("deleted", tracking.getRun(GetRunRequest.newBuilder().setRunId(runId).build())
                .getRun().getInfo().getLifecycleStage());
        tracking.restoreRun(RestoreRunRequest.newBuilder().setRunId(runId).build());
    }

    @Test
    void searchIteratorsWalkEveryPage() {
        String experimentId = client.createExperiment(unique("search"));
        Set<String> created = new HashSet<>();
        for (int i = 0; i < 7; i++) {
            created.add(client.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId)
                    .setRunName("r" + i).build()).getRun().getInfo().getRunId());
        }
        SearchRunsRequest search = SearchRunsRequest.newBuilder().addExperimentIds(experimentId).setMaxResults(3).build();
        SearchRunsResponse firstPage = client.tracking().searchRuns(search);
        assertEquals(3, firstPage.getRunsCount());
        assertFalse(firstPage.getNextPageToken().isEmpty());

        List<String> seen = new ArrayList<>();
        client.iterateRuns(search).forEach(run -> seen.add(run.getInfo().getRunId()));
        assertEquals(7, seen.size());
        assertEquals(created, new HashSet<>(seen));

        String prefix = unique("paged");
        for (int i = 0; i < 5; i++) {
            client.createExperiment(prefix + "-" + i);
        }
        List<String> names = new ArrayList<>();
        client.iterateExperiments(SearchExperimentsRequest.newBuilder().setMaxResults(2)
                .setFilter("name LIKE '" + prefix + "%'").build()).forEach(e -> names.add(e.getName()));
        assertEquals(5, names.size());
    }

    @Test
    void metricHistoryIteratorReadsAllPoints() {
        String experimentId = client.createExperiment(unique("history"));
        String runId = client.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).build())
                .getRun().getInfo().getRunId();
        MetricColumns.Builder columns = MetricColumns.newBuilder().addKeys("m");
        for (int i = 0; i < 250; i++) {
            columns.addKeyIndexes(0).addValues(i).addTimestamps(1000 + i).addSteps(i);
        }
        client.tracking().logBatch(LogBatchRequest.newBuilder().setRunId(runId).setMetricColumns(columns).build());
        List<Long> steps = new ArrayList<>();
        client.iterateMetricHistory(runId, "m", 100).forEach(m -> steps.add(m.getStep()));
        assertEquals(250, steps.size());
        assertEquals(249L, steps.get(249));
    }

    private static Set<String> keys(List<String> keys) {
        return new HashSet<>(keys);
    }
}
