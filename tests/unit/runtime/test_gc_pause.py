"""gc_paused: the cyclic collector is off inside, back on after the last overlapping pause, and
left off when it was off before."""

from __future__ import annotations

import gc
import threading

from exporter.runtime.gc_pause import gc_paused, without_gc


def test_paused_inside_and_resumed_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still under way
    assert gc.isenabled()


def test_resumed_after_an_error() -> None:
    try:
        with gc_paused():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_resume_once_all_end() -> None:
    inside = threading.Barrier(3)
    leave = threading.Event()

    def pause() -> None:
        with gc_paused():
            inside.wait(5)
            leave.wait(5)

    workers = [threading.Thread(target=pause) for _ in range(2)]
    for worker in workers:
        worker.start()
    inside.wait(5)
    assert not gc.isenabled()
    leave.set()
    for worker in workers:
        worker.join(5)
    assert gc.isenabled()
    assert without_gc(gc.isenabled)() is False and gc.isenabled()


def test_what_a_pause_made_is_frozen_and_skipped_by_collections() -> None:
    """The collections after a pause walk none of what the pause made (R3a)."""
    gc.unfreeze()
    try:
        with gc_paused():
            made = [[index] for index in range(10_000)]  # tracked objects, all young
        assert gc.get_freeze_count() >= len(made)
        walked = {id(obj) for obj in gc.get_objects()}  # the generations collections walk
        assert not any(id(inner) in walked for inner in made)
    finally:
        gc.unfreeze()


def test_every_thaw_every_th_pause_thaws_so_cycles_are_reclaimed() -> None:
    """A cycle that is garbage when a pause ends is frozen, then reclaimed after a thaw."""
    import weakref

    from exporter.runtime import gc_pause

    class Node:
        other: object

    gc.unfreeze()
    try:
        with gc_paused():
            node = Node()
            node.other = node  # a cycle, garbage as soon as `node` goes
            alive = weakref.ref(node)
            del node
        gc.collect()
        assert alive() is not None  # frozen: not reclaimed
        for _ in range(gc_pause.THAW_EVERY):
            if alive() is None:
                break
            with gc_paused():
                pass
            gc.collect()
        assert alive() is None
    finally:
        gc.unfreeze()
